//! Small helpers around raw system calls: errno conversion and `ifreq`.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Turns a `-1`-on-error return value into an `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Takes ownership of a descriptor a system call just returned.
pub(crate) fn owned_fd(ret: libc::c_int) -> io::Result<OwnedFd> {
    let fd = cvt(ret)?;
    // SAFETY: `fd` was just returned by a successful system call that
    // creates a descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Checks an interface name: 1 to 15 bytes (`IFNAMSIZ - 1`), no NUL, no '/'.
pub(crate) fn check_ifname(name: &str) -> io::Result<()> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {name:?} must have 1 to {} bytes", libc::IFNAMSIZ - 1),
        ));
    }
    if bytes.iter().any(|&b| b == 0 || b == b'/' || b.is_ascii_whitespace()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {name:?} contains a forbidden character"),
        ));
    }
    Ok(())
}

/// A zeroed `struct ifreq` carrying `name` (checked with [`check_ifname`]).
pub(crate) fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    check_ifname(name)?;
    // SAFETY: `ifreq` is plain old data (a char array and a union of
    // integers, sockaddrs and a pointer); all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// The index of interface `name` in the calling thread's network namespace,
/// or `None` when there is no such interface.
pub(crate) fn if_index(name: &str) -> io::Result<Option<u32>> {
    check_ifname(name)?;
    let cname = std::ffi::CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: `cname` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENODEV) | Some(libc::ENXIO) | Some(libc::ENOENT) => Ok(None),
            _ => Err(err),
        };
    }
    Ok(Some(index))
}

/// The MTU of interface `name` (`SIOCGIFMTU` on a throwaway AF_INET
/// datagram socket).
pub(crate) fn if_mtu(name: &str) -> io::Result<usize> {
    let mut req = ifreq_for(name)?;
    // SAFETY: socket(2) takes no pointers; the result is checked by owned_fd.
    let sock = owned_fd(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCGIFMTU reads `ifr_name` and writes `ifr_ifru.ifru_mtu` of
    // the `ifreq` we pass, which lives on our stack for the whole call.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFMTU, &mut req as *mut libc::ifreq) })?;
    // SAFETY: after a successful SIOCGIFMTU the kernel stored the MTU in
    // `ifru_mtu` (a c_int); every bit pattern is a valid c_int.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    usize::try_from(mtu).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("interface {name} reports MTU {mtu}")))
}

/// The interface flags of `name` (`SIOCGIFFLAGS`: `IFF_UP`, `IFF_RUNNING`, ...).
pub(crate) fn if_flags(name: &str) -> io::Result<libc::c_int> {
    let mut req = ifreq_for(name)?;
    // SAFETY: socket(2) takes no pointers; the result is checked by owned_fd.
    let sock = owned_fd(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCGIFFLAGS reads `ifr_name` and writes `ifr_ifru.ifru_flags`
    // of the `ifreq` we pass, which lives on our stack for the whole call.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req as *mut libc::ifreq) })?;
    // SAFETY: after a successful SIOCGIFFLAGS the kernel stored the flags in
    // `ifru_flags` (a c_short); every bit pattern is a valid c_short.
    Ok(libc::c_int::from(unsafe { req.ifr_ifru.ifru_flags }) & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        assert!(check_ifname("tap0").is_ok());
        assert!(check_ifname("abcdefghijklmno").is_ok()); // 15 bytes
        assert_eq!(check_ifname("abcdefghijklmnop").unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(check_ifname("").unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(check_ifname("a/b").unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(check_ifname("a\0b").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn ifreq_carries_the_name_nul_terminated() {
        let req = ifreq_for("tap7").unwrap();
        let name: Vec<u8> = req.ifr_name.iter().map(|&c| c as u8).collect();
        assert_eq!(&name[..5], b"tap7\0");
        assert!(name[4..].iter().all(|&b| b == 0));
    }

    #[test]
    fn loopback_is_found_and_has_an_mtu() {
        // Every network namespace has `lo`; its MTU is 65536 by default, but
        // anything positive proves the ioctl path works.
        assert!(if_index("lo").unwrap().is_some());
        assert!(if_mtu("lo").unwrap() > 0);
        assert_eq!(if_index("mnetnosuchif0").unwrap(), None);
    }
}
