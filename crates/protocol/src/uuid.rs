/// Formats 16 random bytes as an RFC 4122 version-4 UUID.
///
/// The widget draws the bytes from `crypto.getRandomValues`, which (unlike
/// `crypto.randomUUID`) also exists on pages not served over HTTPS.
pub fn uuid_v4_from_bytes(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 0xf) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_version_and_variant_bits() {
        assert_eq!(uuid_v4_from_bytes([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4_from_bytes([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
