//! A small seeded generator (SplitMix64): the same seed gives the same draws on every
//! replica and in every Rust version, unlike the `rand` crate's StdRng.

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Rejection sampling keeps it unbiased.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws_and_in_range() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let mut c = Rng::new(43);
        let da: Vec<u64> = (0..10).map(|_| a.below(7)).collect();
        let db: Vec<u64> = (0..10).map(|_| b.below(7)).collect();
        let dc: Vec<u64> = (0..10).map(|_| c.next_u64()).collect();
        assert_eq!(da, db);
        assert!(da.iter().all(|&v| v < 7));
        assert_ne!(dc, (0..10).map(|_| a.next_u64()).collect::<Vec<_>>());
    }
}
