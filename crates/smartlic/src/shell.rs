//! `smartlic cli`: one CLI session on a node, over its Unix socket. With `-c LINE` the lines run
//! in order and the exit status says whether any failed; without, an interactive shell with the
//! node's prompt, `?` help (answered at once), Tab completion and history.

use anyhow::{Context, Result, bail};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::{Cmd, ConditionalEventHandler, Event, EventContext, EventHandler, KeyEvent, RepeatCount};
use smartlic_node::protocol::{MAX_LINE, Reply, Request};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A connection to a node's CLI socket.
pub struct Session {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Session {
    /// Connects to `DIR/cli.sock`.
    pub fn connect(dir: &Path) -> Result<Session> {
        let path = dir.join("cli.sock");
        let stream = UnixStream::connect(&path).with_context(|| {
            format!(
                "cannot connect to the node at {} (is `smartlic node --data-dir {}` running?)",
                path.display(),
                dir.display()
            )
        })?;
        let writer = stream.try_clone()?;
        Ok(Session {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Sends one request and reads its reply.
    pub fn call(&mut self, req: &Request) -> Result<Reply> {
        let mut line = serde_json::to_string(req)?;
        if line.len() > MAX_LINE {
            bail!("command line too long ({} bytes, at most {MAX_LINE})", line.len());
        }
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .context("node closed the session")?;
        let mut answer = String::new();
        let n = self.reader.read_line(&mut answer).context("node closed the session")?;
        if n == 0 {
            bail!("node closed the session");
        }
        Ok(serde_json::from_str(&answer)?)
    }
}

/// Runs `-c` lines; returns whether all succeeded.
pub fn run_lines(dir: &Path, lines: &[String]) -> Result<bool> {
    let mut s = Session::connect(dir)?;
    let mut all_ok = true;
    let stdout = std::io::stdout();
    for line in lines {
        let reply = s.call(&Request::Exec { line: line.clone() })?;
        let mut out = stdout.lock();
        out.write_all(reply.output.as_bytes())?;
        if !reply.output.is_empty() && !reply.output.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()?;
        all_ok &= reply.ok;
        if reply.exit {
            break;
        }
    }
    Ok(all_ok)
}

struct ShellHelper {
    session: Arc<Mutex<Session>>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;
    fn complete(&self, line: &str, pos: usize, _ctx: &rustyline::Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let head = line.get(..pos).unwrap_or(line).to_string();
        let Ok(mut s) = self.session.lock() else {
            return Ok((pos, Vec::new()));
        };
        match s.call(&Request::Complete { line: head }) {
            Ok(r) => Ok((
                r.start.min(pos),
                r.candidates
                    .into_iter()
                    .map(|c| Pair {
                        display: c.clone(),
                        replacement: c,
                    })
                    .collect(),
            )),
            Err(_) => Ok((pos, Vec::new())),
        }
    }
}
impl rustyline::hint::Hinter for ShellHelper {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for ShellHelper {}
impl rustyline::validate::Validator for ShellHelper {}
impl rustyline::Helper for ShellHelper {}

/// `?` pressed: accept the line and remember that help was asked for.
struct HelpKey(Arc<AtomicBool>);

impl ConditionalEventHandler for HelpKey {
    fn handle(&self, _evt: &Event, _n: RepeatCount, _positive: bool, ctx: &EventContext<'_>) -> Option<Cmd> {
        // Inside a quoted string `?` is a character like any other.
        if ctx.line().chars().filter(|c| *c == '"').count() % 2 == 1 {
            return None;
        }
        self.0.store(true, Ordering::SeqCst);
        Some(Cmd::AcceptLine)
    }
}

/// The interactive shell.
pub fn interactive(dir: &Path) -> Result<bool> {
    let session = Arc::new(Mutex::new(Session::connect(dir)?));
    let call = |req: Request| -> Result<Reply> {
        let mut s = session.lock().map_err(|_| anyhow::anyhow!("session lock poisoned"))?;
        s.call(&req)
    };
    let mut rl: rustyline::Editor<ShellHelper, rustyline::history::DefaultHistory> = rustyline::Editor::new()?;
    rl.set_helper(Some(ShellHelper {
        session: session.clone(),
    }));
    let help_asked = Arc::new(AtomicBool::new(false));
    rl.bind_sequence(
        KeyEvent::from('?'),
        EventHandler::Conditional(Box::new(HelpKey(help_asked.clone()))),
    );
    let mut prompt = call(Request::Prompt)?.prompt;
    let mut initial = String::new();
    let mut all_ok = true;
    loop {
        let read = rl.readline_with_initial(&prompt, (&initial, ""));
        initial.clear();
        match read {
            Ok(line) => {
                if help_asked.swap(false, Ordering::SeqCst) {
                    outln!("{line}?");
                    let r = call(Request::Help { line: line.clone() })?;
                    print!("{}", r.output);
                    initial = line;
                    continue;
                }
                if line.trim().is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line.as_str());
                let r = call(Request::Exec { line })?;
                print!("{}", r.output);
                if !r.output.is_empty() && !r.output.ends_with('\n') {
                    outln!();
                }
                all_ok &= r.ok;
                prompt = r.prompt;
                if r.exit {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(all_ok)
}
