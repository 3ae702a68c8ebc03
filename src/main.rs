//! `pbm-hil`: the command-line entry point. Everything testable lives in the library.
fn main() -> std::process::ExitCode {
    pbm_hil::cli::main(std::env::args_os())
}
