//! Runs code that the target CPU's extensions change: vectorizable integer arithmetic and
//! variable shifts (AVX2/BMI2 on x86-64-v3) and atomic read-modify-write (LSE on Armv8.1+).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

fn main() {
    let n = black_box(4096usize);
    let a: Vec<u32> = (0..n as u32)
        .map(|i| black_box(i.wrapping_mul(2_654_435_761)))
        .collect();
    let b: Vec<u32> = (0..n as u32).map(|i| black_box(i ^ 0x5bd1_e995)).collect();
    let mut acc = 0u32;
    for (x, y) in a.iter().zip(&b) {
        acc = acc.wrapping_add(x.wrapping_mul(*y) >> (y & 15));
    }
    let counter = AtomicU64::new(black_box(1));
    counter.fetch_add(u64::from(acc), Ordering::SeqCst);
    println!("probe ran: {}", counter.load(Ordering::SeqCst));
}
