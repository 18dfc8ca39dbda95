//! Randomness for identifiers and secrets, from the operating system's CSPRNG (ring).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};

/// `N` random bytes, base64url-encoded without padding.
///
/// Panics only if the operating system cannot provide randomness, in which case no
/// secret this server could issue would be safe.
pub fn url_token<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    // No safe way to continue without an RNG.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}
