//! Job processing runs at a lower CPU priority than the API, so clients polling a busy server
//! are answered promptly while the clip is still worked on with whatever CPU is left. On Linux
//! a nice value belongs to a thread and is inherited by the threads it starts, so lowering the
//! job thread and the thread that builds rayon's pool covers all of a job's work.

/// Nice value of job threads: the lowest (0 is normal). A job still gets every cycle the API
/// does not need.
const JOB_NICE: i32 = 19;

/// Lowers the calling thread's CPU priority; best effort, a no-op where unsupported.
pub(crate) fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let _ = libc::setpriority(libc::PRIO_PROCESS, tid, JOB_NICE);
        }
    }
}

/// Builds rayon's global pool (the engine's parallel work) from a lowered thread, so its
/// threads run at job priority too. Does nothing if the pool already exists.
pub(crate) fn lower_rayon_pool() {
    let _ = std::thread::Builder::new()
        .name("retake-rayon-init".into())
        .spawn(|| {
            lower_this_thread();
            let _ = rayon::ThreadPoolBuilder::new()
                .thread_name(|i| format!("retake-job-{i}"))
                .build_global();
        })
        .map(|h| h.join());
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_lowered_thread_and_its_children_run_at_job_priority() {
        let nice = || {
            // SAFETY: as above.
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::getpriority(libc::PRIO_PROCESS, tid)
            }
        };
        let base = nice();
        let (own, child) = std::thread::spawn(move || {
            super::lower_this_thread();
            let own = nice();
            let child = std::thread::spawn(nice).join().unwrap();
            (own, child)
        })
        .join()
        .unwrap();
        assert_eq!(own, base.max(super::JOB_NICE));
        assert_eq!(child, own, "inherited by threads it starts");
        assert_eq!(nice(), base, "the caller's own priority is untouched");
    }
}
