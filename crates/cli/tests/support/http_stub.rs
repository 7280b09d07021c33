//! A one-thread HTTP stub on loopback for the integration tests that play a platform's API
//! (Lambda's Invoke API, OpenWhisk's controller): it records each request and answers with
//! what the test's closure makes of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;

/// A request a stub received.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub request_line: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Json,
}

/// A one-thread HTTP stub on loopback: for each request, `answer` turns what it saw into
/// (status, body). Serves `count` requests, then stops.
pub fn stub(
    count: usize,
    answer: impl Fn(&Seen) -> (u16, String) + Send + 'static,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request = Seen::default();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            request.request_line = line.trim().to_string();
            let mut length = 0usize;
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim().split_once(':') {
                    let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                    if k == "content-length" {
                        length = v.parse().unwrap_or(0);
                    }
                    request.headers.push((k, v));
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            request.body = serde_json::from_slice(&body).unwrap_or(Json::Null);
            let (status, text) = answer(&request);
            log.lock().expect("lock").push(request);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, seen)
}
