// mimalloc: every request allocates and frees many small buffers (JSON, strings lowered into
// the guest, wasmtime's per-store state); glibc's malloc was a fifth of an evaluation's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // With transparent huge pages, mimalloc's arenas become resident 2 MiB at a time: 30 MiB
    // more at start-up, and no faster (measured with benches/evaluation.rs).
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    wasmhook::cli::main()
}
