//! The Service the operator creates for each SpinApp, on loopback: one address that stays the
//! same for the SpinApp's life and forwards each connection to the process that is ready now,
//! so a new digest changes what answers, not where. With no ready process it takes no
//! connection's bytes: the client sees the connection closed, as with a Service without
//! endpoints.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Service {
    pub address: String,
    target: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    pub fn open() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?.to_string();
        let target: Arc<Mutex<Option<String>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let (t, s) = (target.clone(), stop.clone());
        let thread = std::thread::spawn(move || accept(&listener, &t, &s));
        Ok(Service {
            address,
            target,
            stop,
            thread: Some(thread),
        })
    }

    /// Where new connections go: the ready process, or nowhere.
    pub fn route_to(&self, address: Option<&str>) {
        *self.target.lock().unwrap() = address.map(str::to_owned);
    }

    pub fn routes(&self) -> bool {
        self.target.lock().unwrap().is_some()
    }
}

impl Drop for Service {
    /// Closes the address: nothing answers there any more.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept(listener: &TcpListener, target: &Mutex<Option<String>>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let to = target.lock().unwrap().clone();
                std::thread::spawn(move || forward(client, to));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn forward(client: TcpStream, to: Option<String>) {
    let _ = client.set_nonblocking(false);
    let Some(server) = to.and_then(|to| TcpStream::connect(to).ok()) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(client_out), Ok(server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let upstream = std::thread::spawn(move || pipe(client, server_out));
    pipe(server, client_out);
    let _ = upstream.join();
}

/// Copies FROM into TO until FROM ends, then ends TO's writing half.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut text = String::new();
                let _ = stream.read_to_string(&mut text);
                let _ = stream.write_all(format!("echo {text}").as_bytes());
            }
        });
        address
    }

    fn ask(address: &str) -> String {
        let mut stream = TcpStream::connect(address).unwrap();
        // A Service with no ready process may have closed the connection already, so writing
        // or ending the request can fail: what matters is what comes back.
        let _ = stream.write_all(b"hi");
        let _ = stream.shutdown(Shutdown::Write);
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    #[test]
    fn one_address_forwards_to_whichever_process_is_ready() {
        let service = Service::open().unwrap();
        assert_eq!(ask(&service.address), "", "no ready process: closed");
        service.route_to(Some(&echo_server()));
        assert_eq!(ask(&service.address), "echo hi");
        service.route_to(Some(&echo_server()));
        assert_eq!(ask(&service.address), "echo hi");
        let address = service.address.clone();
        drop(service);
        assert!(
            TcpStream::connect(address).is_err(),
            "a deleted Service's address closes"
        );
    }
}
