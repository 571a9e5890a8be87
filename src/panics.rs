//! A panic is reported as one line on stderr, and reporting it can never
//! fail in turn: std's default hook is several lines, and a hook that
//! panics on a full stderr aborts the process.

/// Installs a hook that prints `line(location, message)`, best effort.
pub fn report_as_one_line(line: impl Fn(&str, &str) -> String + Send + Sync + 'static) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default()
            .replace('\n', " ");
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        errln!("{}", line(&at, &msg));
    }));
}
