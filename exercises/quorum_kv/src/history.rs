// PROVIDED: read it, do not change it.
//! A history of operations on the store, the input of the checker (step 5).
//!
//! The format is Jepsen's: each client invokes an operation, then the same
//! client completes it with `Ok` (it happened, and a read says what it saw),
//! `Fail` (it certainly did not happen) or `Info` (nobody knows: a timeout, a
//! 503 after a write reached some replicas). Events are in real-time order: an
//! event earlier in the list happened before a later one.

use std::sync::Mutex;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Write(String),
    Read,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Invoke {
        client: usize,
        key: String,
        call: Call,
    },
    /// For a read, `read` is what it saw (`None`: the key had no value). A
    /// write's `Ok` carries `None`.
    Ok {
        client: usize,
        read: Option<String>,
    },
    Fail {
        client: usize,
    },
    Info {
        client: usize,
    },
}

/// Collects events from concurrent clients in the order they happen: each
/// event is appended under one lock, so the list's order is real time.
#[derive(Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    pub fn push(&self, event: Event) {
        self.events
            .lock()
            .expect("a recorder's lock is never held across a panic")
            .push(event);
    }

    pub fn invoke(&self, client: usize, key: &str, call: Call) {
        self.push(Event::Invoke {
            client,
            key: key.to_string(),
            call,
        });
    }

    pub fn ok(&self, client: usize, read: Option<String>) {
        self.push(Event::Ok { client, read });
    }

    pub fn fail(&self, client: usize) {
        self.push(Event::Fail { client });
    }

    pub fn info(&self, client: usize) {
        self.push(Event::Info { client });
    }

    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .expect("a recorder's lock is never held across a panic")
            .clone()
    }
}
