//! The sweep of downloads folders left by runs whose process ended.

use super::run::sweep_stale_files;
use crate::state::owner::file_tag;

#[test]
fn folders_of_ended_processes_on_this_machine_are_removed_and_no_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mine = file_tag();
    let (machine, rest) = mine.split_once('-').expect("machine-pid-start");
    if machine.is_empty() {
        // No /proc here: no process can be judged, nothing is swept.
        return;
    }
    let (pid, start) = rest.split_once('-').expect("pid-start");
    let start: u64 = start.parse().expect("start");
    let folder = |name: String| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.join("inner")).expect("mkdir");
        p
    };
    let live = folder(format!("partreel-files-{mine}_run-live"));
    // A pid no kernel hands out (above pid_max), and this pid started at another time.
    let dead = folder(format!("partreel-files-{machine}-4000000000-1_run-dead"));
    let reused = folder(format!(
        "partreel-files-{machine}-{pid}-{}_run-reused",
        start + 1
    ));
    let elsewhere = folder("partreel-files-0a0b0c0d0e0f-4000000000-1_run-other".into());
    let unrelated = folder("partreel-files-garbage".into());
    let file = dir
        .path()
        .join(format!("partreel-files-{machine}-4000000000-1_file"));
    std::fs::write(&file, "not a folder").expect("write");

    assert_eq!(sweep_stale_files(dir.path()), 2);
    assert!(live.exists(), "this process's folder stays");
    assert!(!dead.exists(), "an ended process's folder goes");
    assert!(
        !reused.exists(),
        "a recycled pid is another process: its folder goes"
    );
    assert!(elsewhere.exists(), "another machine's folder stays");
    assert!(unrelated.exists() && file.exists(), "anything else stays");
}
