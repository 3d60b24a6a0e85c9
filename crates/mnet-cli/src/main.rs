//! The `mnet` command: every demo and tool a user runs.
//!
//! `mnet [--tap NAME] [--ipv4 CIDR] [--ipv4-gateway IP] [--ipv6 MODE]
//! [--ipv6-secret HEX] [--no-slaac] [--ipv6-gateway IP] [--mac MAC] [--mtu N]
//! [--no-offload] [--pcap FILE] [-v|-q] COMMAND`

mod args;
mod demo;
mod host;
mod iperf3_cmd;
mod logger;
mod ping_cmd;
mod tcp_cmds;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                });
            }
            // One line, like other Unix tools: the first line of clap's message.
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("error: bad arguments");
            eprintln!("mnet: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    logger::init(cli.verbose, cli.quiet);
    let code = match &cli.command {
        Command::Demo => demo::run(&cli),
        Command::UdpEcho { port } => host::udp_echo(&cli, *port),
        Command::Ping(p) => ping_cmd::run(&cli, p),
        Command::EchoServer(a) => tcp_cmds::echo_server(&cli, a),
        Command::EchoClient(a) => tcp_cmds::echo_client_cmd(&cli, a),
        Command::Sink(a) => tcp_cmds::sink(&cli, a),
        Command::Source(a) => tcp_cmds::source(&cli, a),
        Command::Addresses { wait } => host::addresses(&cli, *wait),
        Command::Iperf3Server(a) => iperf3_cmd::run(&cli, a),
    };
    ExitCode::from(code)
}
