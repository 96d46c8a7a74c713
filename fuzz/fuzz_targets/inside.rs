//! What the read-only scripts print inside auth-service and admin-api (`docker exec`):
//! `probe::inside::parse` (sections of `id`, `ls -lna`, `df -P` and the public key PEM), the
//! facts' helpers (`FileEntry::writable_by`, `readable_by_others`, `is_dir`,
//! `DiskFacts::used_ratio`), and `jwt::pem_modulus` (PEM and DER of a public key) on the text.
#![no_main]

use doctor::jwt;
use doctor::probe::inside;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let f = inside::parse(&s);
    let uid = f.uid.unwrap_or(1000);
    let mut entries = Vec::new();
    if let Some(Ok(keys)) = &f.keys {
        entries.extend(keys.iter().cloned());
    }
    if let Some(Ok(dir)) = &f.uploads {
        entries.push(dir.clone());
    }
    for e in &entries {
        let _ = e.writable_by(uid, &f.gids);
        let _ = e.writable_by(0, &[]);
        let _ = e.readable_by_others();
        let _ = e.is_dir();
    }
    if let Some(Ok(disk)) = &f.uploads_disk {
        let r = disk.used_ratio();
        assert!((0.0..=1.0).contains(&r), "{r}");
    }
    if let Some(Ok((fingerprint, _bits))) = &f.public_key {
        assert_eq!(fingerprint.len(), 12);
    }
    if let Ok((fingerprint, _)) = jwt::pem_modulus(&s) {
        assert_eq!(fingerprint.len(), 12);
    }
});
