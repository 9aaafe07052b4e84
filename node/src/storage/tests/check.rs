//! The consistency check: silent on a sound store (small and bulk batches,
//! versions, retractions), and each kind of damage named.

use super::*;

/// A store with a bulk batch (rare blocks), single inserts, a retraction
/// and a new version; returns it and one live record.
pub(super) async fn sound_store(path: &std::path::Path) -> (Store, Record) {
    let store = Store::open(path, "KE-KWS").expect("open");
    let bulk: Vec<InsertItem> = (0..1100)
        .map(|n| item(&rec(body(n, "Panthera tigris", "IN"))))
        .collect();
    store.insert(bulk, Vec::new()).await.expect("bulk");
    let a = rec(body(5000, "Manis javanica", "VN"));
    let b = rec(body(5001, "Psittacus erithacus", "CM"));
    put(&store, &a).await.expect("a");
    put(&store, &b).await.expect("b");
    put(&store, &rec(retraction(&a, "KE-KWS", 5002)))
        .await
        .expect("retract");
    let mut v2 = body(5003, "Psittacus erithacus", "GA");
    v2.supersedes = b.id().to_string();
    put(&store, &rec(v2)).await.expect("version 2");
    (store, b)
}

#[tokio::test]
async fn a_sound_store_passes() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = sound_store(dir.path()).await;
    let r = store.check().await.expect("check");
    assert_eq!(r.problems, Vec::<String>::new());
    assert_eq!(r.records, store.len() as u64);
    assert_eq!(r.records, 1100 + 3, "bulk, b, its version, the retraction");
    assert!(r.index_entries > r.records * 4, "{r:?}");
    assert_eq!(r.dangling, 0);
}

/// Each kind of damage, made on a closed store's raw trees, is named.
#[tokio::test]
async fn each_kind_of_damage_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, b) = sound_store(dir.path()).await;
    store.close();
    drop(store);
    let b_seq = {
        let db = open_sled(dir.path(), sled::Config::new()).expect("raw");
        let ids = db.open_tree("id_seq").expect("ids");
        keys::u64_from(&ids.get(b.id().as_bytes()).expect("get").expect("b held"))
    };
    type Damage = Box<dyn Fn(&sled::Db)>;
    let damage: [(&str, Damage); 3] = [
        (
            "signature",
            Box::new(move |db| {
                let rows = db.open_tree("seq_record").expect("rows");
                let v = rows.get(b_seq.to_be_bytes()).expect("get").expect("row");
                let mut row = Row::decode(v.as_ref()).expect("row");
                let signed = row.signed.as_mut().expect("signed");
                signed.signature[7] ^= 1;
                rows.insert(b_seq.to_be_bytes(), row.encode_to_vec())
                    .expect("put");
            }),
        ),
        (
            "index",
            Box::new(|db| {
                let index = db.open_tree("index").expect("index");
                let prefix = keys::index_prefix(Field::Country, "CM");
                let (k, _) = index
                    .scan_prefix(&prefix)
                    .next()
                    .expect("a block")
                    .expect("read");
                index.remove(k).expect("drop the block");
            }),
        ),
        (
            "leads to feed position",
            Box::new(|db| {
                db.open_tree("id_seq")
                    .expect("ids")
                    .insert([9u8; 32], &u64::MAX.to_be_bytes())
                    .expect("a stray id");
            }),
        ),
    ];
    for (named, edit) in damage {
        let copy = tempfile::tempdir().expect("tmp");
        copy_dir(dir.path(), copy.path());
        let db = open_sled(copy.path(), sled::Config::new()).expect("raw");
        edit(&db);
        db.flush().expect("flush");
        drop(db);
        let store = Store::open(copy.path(), "KE-KWS").expect("open");
        let r = store.check().await.expect("check");
        assert!(
            r.problems.iter().any(|p| p.contains(named)),
            "damage to the {named} not named: {r:?}"
        );
    }
}

/// A counter that drifted while the node ran (the clean-stop mark keeps
/// it from being recounted at open) is named.
#[tokio::test]
async fn a_drifted_counter_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = sound_store(dir.path()).await;
    store.close();
    drop(store);
    let db = open_sled(dir.path(), sled::Config::new()).expect("raw");
    db.open_tree("field_count")
        .expect("counts")
        .insert(keys::stat_key(Field::Country, "IN"), &7u64.to_be_bytes())
        .expect("skew");
    db.flush().expect("flush");
    drop(db);
    let store = Store::open(dir.path(), "KE-KWS").expect("open");
    let r = store.check().await.expect("check");
    assert!(
        r.problems.iter().any(|p| p.contains("counter cIN")),
        "{r:?}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).expect("dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}
