//! Connects to `AWS_LAMBDA_RUNTIME_API`, asks for the next invocation, waits for the answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        eprintln!("floor-probe: AWS_LAMBDA_RUNTIME_API is not set");
        return ExitCode::FAILURE;
    };
    let Ok(mut stream) = TcpStream::connect(&api) else {
        eprintln!("floor-probe: cannot connect to {api}");
        return ExitCode::FAILURE;
    };
    let request = format!(
        "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return ExitCode::FAILURE;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    ExitCode::SUCCESS
}
