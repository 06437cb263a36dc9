//! Counters of a process from `/proc/<pid>/stat` (Linux), shared by the benchmarks.

/// The `n`th field of `/proc/self/stat`, counting from 1 as `man 5 proc` does.
fn field(n: usize) -> f64 {
    field_of("self", n)
}

/// The `n`th field of `/proc/<process>/stat`.
fn field_of(process: &str, n: usize) -> f64 {
    let path = format!("/proc/{process}/stat");
    let stat = std::fs::read_to_string(&path).expect("/proc/<pid>/stat (Linux)");
    // Fields 3 onwards follow the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')').expect("a stat line").1;
    let value = after_name
        .split_whitespace()
        .nth(n - 3)
        .expect("enough fields");
    value.parse().expect("a number")
}

/// Minor page faults taken so far: what touching fresh copy-on-write memory costs.
#[allow(dead_code, reason = "each benchmark uses what it needs")]
pub fn minor_page_faults() -> u64 {
    field(10) as u64
}

/// CPU time (user + system) used so far, in seconds: what the process cost, whatever share of
/// the machine other processes took. `utime` and `stime` are in clock ticks, 100 per second.
#[allow(dead_code, reason = "each benchmark uses what it needs")]
pub fn cpu_seconds() -> f64 {
    (field(14) + field(15)) / 100.0
}

/// [`cpu_seconds`] of another process, e.g. a server the benchmark started.
#[allow(dead_code, reason = "each benchmark uses what it needs")]
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let pid = pid.to_string();
    (field_of(&pid, 14) + field_of(&pid, 15)) / 100.0
}
