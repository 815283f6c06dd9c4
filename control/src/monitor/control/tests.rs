//! LSN text round trips.

use super::*;

#[test]
fn lsn_round_trip() {
    assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
    assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
    assert_eq!(parse_lsn("0/0"), Some(0));
    assert_eq!(parse_lsn("nonsense"), None);
}
