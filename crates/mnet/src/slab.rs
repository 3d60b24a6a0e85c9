//! A bounded slab with generation-checked handles: a stale handle never
//! reaches a newer socket that reused the slot.

use alloc::vec::Vec;

/// A key into a [`Slab`]: slot index plus the generation it was issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    index: u32,
    generation: u32,
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Up to `capacity` values addressed by [`Handle`].
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
    capacity: usize,
}

impl<T> Slab<T> {
    pub fn new(capacity: usize) -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Store `value`; `Err(value)` when the slab is at capacity.
    pub fn insert(&mut self, value: T) -> Result<Handle, T> {
        if self.len >= self.capacity {
            return Err(value);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let Ok(i) = u32::try_from(self.slots.len()) else {
                    return Err(value);
                };
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                i
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.value = Some(value);
        self.len += 1;
        Ok(Handle {
            index,
            generation: slot.generation,
        })
    }

    pub fn get(&self, h: Handle) -> Option<&T> {
        let slot = self.slots.get(h.index as usize)?;
        if slot.generation != h.generation {
            return None;
        }
        slot.value.as_ref()
    }

    pub fn get_mut(&mut self, h: Handle) -> Option<&mut T> {
        let slot = self.slots.get_mut(h.index as usize)?;
        if slot.generation != h.generation {
            return None;
        }
        slot.value.as_mut()
    }

    pub fn remove(&mut self, h: Handle) -> Option<T> {
        let slot = self.slots.get_mut(h.index as usize)?;
        if slot.generation != h.generation {
            return None;
        }
        let v = slot.value.take()?;
        self.free.push(h.index);
        self.len -= 1;
        Some(v)
    }

    /// Take the value out for a while, keeping its slot (and handle)
    /// reserved until [`Slab::restore`]. `get` misses it meanwhile.
    pub fn take(&mut self, h: Handle) -> Option<T> {
        let slot = self.slots.get_mut(h.index as usize)?;
        if slot.generation != h.generation {
            return None;
        }
        slot.value.take()
    }

    /// Put back a value taken with [`Slab::take`].
    pub fn restore(&mut self, h: Handle, value: T) {
        if let Some(slot) = self.slots.get_mut(h.index as usize)
            && slot.generation == h.generation
            && slot.value.is_none()
        {
            slot.value = Some(value);
        }
    }

    /// Free a slot whose value was taken and will not come back.
    pub fn release(&mut self, h: Handle) {
        if let Some(slot) = self.slots.get_mut(h.index as usize)
            && slot.generation == h.generation
            && slot.value.is_none()
        {
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(h.index);
            self.len -= 1;
        }
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Handle, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| {
            let generation = s.generation;
            s.value.as_mut().map(|v| {
                (
                    Handle {
                        index: i as u32,
                        generation,
                    },
                    v,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_handles_miss() {
        let mut s = Slab::new(2);
        let a = s.insert(1).unwrap();
        let b = s.insert(2).unwrap();
        assert!(s.insert(3).is_err());
        assert_eq!(s.remove(a), Some(1));
        let c = s.insert(4).unwrap();
        assert_eq!(s.get(a), None);
        assert_eq!(s.get(c), Some(&4));
        assert_eq!(s.get(b), Some(&2));
        assert_eq!(s.len(), 2);
        let v = s.take(c).unwrap();
        assert_eq!(s.get(c), None);
        s.restore(c, v + 1);
        assert_eq!(s.get(c), Some(&5));
        s.take(c).unwrap();
        s.release(c);
        assert_eq!(s.len(), 1);
        assert!(s.insert(6).is_ok());
    }
}
