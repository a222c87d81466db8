//! The interactive CLI in a pseudo-terminal: prompt, `?` help answered at once, Tab completion,
//! abbreviations and modes, as an operator types them.

mod common;
use common::*;

#[test]
fn interactive_shell_prompt_help_and_completion() {
    let mut w = World::new();
    let node = w.start_node("pty1");
    let cmd = format!("{BIN} cli --data-dir {}", node.dir.display());
    let mut p = rexpect::spawn(&cmd, Some(20_000)).expect("spawn the shell");
    p.exp_string("[local]pty1#").expect("exec prompt");
    // `?` lists what may follow, at once, and keeps the line.
    p.send("show license ?").expect("send");
    p.flush().expect("flush");
    p.exp_string("eval-period").expect("help lists eval-period");
    p.exp_string("[local]pty1#").expect("prompt again");
    // Finish the kept line with Tab completion: "stat" + Tab is ambiguous, "statu" + Tab completes.
    p.send("statu\t").expect("send");
    p.flush().expect("flush");
    p.send_line("").expect("enter");
    p.exp_string("Smart Licensing is DISABLED")
        .expect("show license status ran");
    p.send_line("conf").expect("configure");
    p.exp_string("[local]pty1(config)#").expect("config prompt");
    p.send_line("license smart enable").expect("enable");
    p.exp_string("[local]pty1(config)#").expect("still in config");
    p.send_line("end").expect("end");
    p.exp_string("[local]pty1#").expect("back to exec");
    p.send_line("sh lic stat | grep ENABLED").expect("grep");
    p.exp_string("Smart Licensing is ENABLED").expect("enabled");
    p.send_line("show licence").expect("typo");
    p.exp_string("Invalid command").expect("invalid command reported");
    p.send_line("exit").expect("exit");
    p.exp_eof().expect("the session ends");
}
