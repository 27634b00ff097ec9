//! Which users a sampled experience reaches: a stable bucket per user and
//! experience, so the widget and the collector (and every page load) agree
//! without storing anything.

/// The user's bucket, 0–99, for one experience: FNV-1a (32-bit) of the UTF-8
/// bytes of `"{experience_id}:{user_key}"`, modulo 100. A user is sampled in
/// when `bucket < sample_percent`.
///
/// This is a contract: changing it reshuffles who sees every sampled survey.
/// Keying by the experience id too means a user in the 10% of one survey is
/// not automatically in the 10% of every other.
pub fn bucket(experience_id: &str, user_key: &str) -> u8 {
    let mut h = fnv1a32(FNV_OFFSET, experience_id.as_bytes());
    h = fnv1a32(h, b":");
    h = fnv1a32(h, user_key.as_bytes());
    (h % 100) as u8
}

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

pub(super) fn fnv1a32(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

#[cfg(test)]
pub(super) fn fnv1a32_of(s: &str) -> u32 {
    fnv1a32(FNV_OFFSET, s.as_bytes())
}
