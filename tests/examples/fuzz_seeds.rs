//! Writes every fuzz target's seeds into `fuzz/corpus/<target>/`, the
//! fuzzer's starting corpus (`scripts/fuzz.sh` runs it first).

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, _) in wildnet_tests::fuzz::TARGETS {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        for (i, seed) in wildnet_tests::fuzz::seeds(name).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed)?;
        }
    }
    println!("seeds written to {}", root.display());
    Ok(())
}
