//! `pbm-hil`: the command-line entry point. Everything testable lives in the library.
fn main() -> std::process::ExitCode {
    // `.cargo/config.toml` builds for x86-64-v3: on a CPU without its instructions say so and
    // how to rebuild, rather than die of an illegal instruction somewhere in the loop.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if !(std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("bmi2"))
    {
        eprintln!(
            "error: this pbm-hil was built for x86-64-v3 (AVX2, FMA, BMI2) and this CPU lacks them; \
             rebuild for the baseline with RUSTFLAGS=\"-C target-cpu=x86-64\" cargo build --release"
        );
        return std::process::ExitCode::from(2);
    }
    pbm_hil::cli::main(std::env::args_os())
}
