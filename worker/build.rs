//! Makes the Temporal API's protobuf descriptors (which temporalio-protos compiles and announces
//! through its `links` metadata) available to the binary, so `annapurna replay --history` can read
//! the proto3 JSON that `temporal workflow show --output json` writes.

fn main() {
    let src = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH")
        .expect("temporalio-protos announces its descriptor set");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap())
        .join("temporal_descriptors.bin");
    std::fs::copy(&src, &out).expect("copying the Temporal API descriptors");
    println!("cargo:rerun-if-changed={src}");
}
