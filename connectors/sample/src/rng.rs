//! A small, fast, deterministic pseudo-random generator (SplitMix64).
//!
//! The generator must give the same numbers on every machine, in every run and with every
//! dependency version, so it is written here instead of taken from `rand` (whose algorithms
//! may change between releases). SplitMix64 passes BigCrush, needs only 8 bytes of state —
//! which matters because every customer carries its own generator — and can be seeded from
//! any 64-bit value. Only integer arithmetic and `+ - * /` on floats are used (no `ln`,
//! `cos`, …), so results do not depend on the platform's maths library either.

/// The golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Independent random streams: each entity kind hashes its ids under its own domain, so
/// customer 7 and employee 7 never share numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Domain {
    /// The life of one customer.
    Customer = 1,
    /// The fixed attributes of one customer (name, country, segment, fee).
    CustomerIdentity = 2,
    /// The fixed attributes of one ticket (channel, priority, subject, timings).
    Ticket = 3,
    /// The fixed attributes of one employee (name, cost, training propensity).
    EmployeeIdentity = 4,
    /// The organisation built at the start (team health, initial staff).
    Organisation = 5,
    /// The day-by-day life of the staff (attrition, training, eNPS).
    Staff = 6,
}

/// The SplitMix64 finaliser: a bijective mix of 64 bits.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 generator. `Copy` so that a customer's state can be copied out of and back
/// into its slot cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for one entity: the stream is a function of (seed, domain, id) only.
    pub(crate) fn derive(seed: u64, domain: Domain, id: u64) -> Self {
        let h = mix64(seed.wrapping_add(GAMMA));
        let h = mix64(h ^ (domain as u64).wrapping_mul(GAMMA));
        Rng { state: mix64(h ^ id) }
    }

    /// The next 64 random bits.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// A uniform float in `[0, 1)`.
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)` (0 when `n` is 0). Lemire's multiply-shift; the bias
    /// is below 2⁻³² for the small ranges used here.
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform integer in `[lo, hi]` (`lo` when `hi < lo`).
    #[inline]
    pub(crate) fn range(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(u64::from(hi - lo) + 1) as u32
    }

    /// `true` with probability `p`.
    #[inline]
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// An approximately standard normal number (Irwin–Hall sum of four uniforms, scaled to
    /// unit variance; tails end at ±3.46, which suits survey noise).
    #[inline]
    pub(crate) fn normal(&mut self) -> f64 {
        const SQRT_3: f64 = 1.732_050_807_568_877_2;
        let sum = self.unit() + self.unit() + self.unit() + self.unit();
        (sum - 2.0) * SQRT_3
    }

    /// An index drawn with the given relative weights (the last index if all are 0).
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut pick = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if pick < u64::from(w) {
                return i;
            }
            pick -= u64::from(w);
        }
        weights.len().saturating_sub(1)
    }

    /// A uniformly chosen element (`None` for an empty slice).
    #[inline]
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_domains_differ() {
        let a: Vec<u64> = {
            let mut r = Rng::derive(42, Domain::Customer, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::derive(42, Domain::Customer, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let c: Vec<u64> = {
            let mut r = Rng::derive(42, Domain::EmployeeIdentity, 7);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn distributions_have_the_expected_moments() {
        let mut r = Rng::derive(1, Domain::Staff, 0);
        let n = 100_000;
        let units: Vec<f64> = (0..n).map(|_| r.unit()).collect();
        let mean = units.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "unit mean {mean}");
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));

        let normals: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let var = normals.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "normal mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "normal variance {var}");

        let mut counts = [0u32; 3];
        for _ in 0..n {
            counts[r.weighted(&[1, 2, 7])] += 1;
        }
        assert!((f64::from(counts[2]) / n as f64 - 0.7).abs() < 0.01, "{counts:?}");
        assert!((0..1000).all(|_| r.range(3, 5) >= 3 && r.range(3, 5) <= 5));
        assert_eq!(r.range(9, 9), 9);
        assert_eq!(r.below(0), 0);
    }
}
