//! Datasets: which ones a paper names (by pattern), and which of the catalogue the generated
//! code may train on. Execution hosts pre-stage the catalogue's datasets; `synthetic` is always
//! there.

use workflows::types::DatasetMention;

/// The default catalogue: what the execution hosts pre-stage.
pub const DEFAULT_CATALOGUE: &[&str] = &[
    "cifar10",
    "cifar100",
    "mnist",
    "fashion_mnist",
    "imdb",
    "wikitext2",
    "synthetic",
];

/// Datasets papers name: the name, the spellings to look for (lower case, matched on word
/// boundaries), and the catalogue id that stands for it.
const KNOWN: &[(&str, &[&str], Option<&str>)] = &[
    (
        "CIFAR-10",
        &["cifar-10", "cifar10", "cifar 10"],
        Some("cifar10"),
    ),
    (
        "CIFAR-100",
        &["cifar-100", "cifar100", "cifar 100"],
        Some("cifar100"),
    ),
    (
        "Fashion-MNIST",
        &["fashion-mnist", "fashion mnist", "fashionmnist"],
        Some("fashion_mnist"),
    ),
    ("MNIST", &["mnist"], Some("mnist")),
    ("IMDB", &["imdb"], Some("imdb")),
    (
        "WikiText-2",
        &["wikitext-2", "wikitext2", "wikitext 2"],
        Some("wikitext2"),
    ),
    (
        "WikiText-103",
        &["wikitext-103", "wikitext103"],
        Some("wikitext2"),
    ),
    ("ImageNet", &["imagenet", "ilsvrc"], None),
    ("SST-2", &["sst-2", "sst2"], None),
    ("GLUE", &["glue"], None),
    ("COCO", &["ms coco", "mscoco", "coco"], None),
    ("SVHN", &["svhn"], None),
    ("STL-10", &["stl-10", "stl10"], None),
    ("CelebA", &["celeba"], None),
    ("SQuAD", &["squad"], None),
    ("Penn Treebank", &["penn treebank", "ptb"], None),
    (
        "WMT",
        &["wmt 2014", "wmt14", "wmt'14", "wmt 14", "wmt"],
        None,
    ),
    ("LibriSpeech", &["librispeech"], None),
    ("AG News", &["ag news", "ag_news", "agnews"], None),
    ("Yelp", &["yelp"], None),
    ("OpenWebText", &["openwebtext"], None),
    ("C4", &["c4 dataset", "colossal clean crawled"], None),
    ("The Pile", &["the pile"], None),
    ("Tiny ImageNet", &["tiny imagenet", "tiny-imagenet"], None),
    (
        "UCI Adult",
        &["adult dataset", "uci adult", "census income"],
        None,
    ),
];

/// Counts `needle` in `haystack` where it stands as a word, and blanks those occurrences so a
/// shorter spelling checked later does not count them again.
fn take_word(haystack: &mut String, needle: &str) -> u32 {
    let mut count = 0;
    let mut from = 0;
    while let Some(found) = haystack[from..].find(needle) {
        let start = from + found;
        let end = start + needle.len();
        let bytes = haystack.as_bytes();
        let before = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before && after {
            count += 1;
            haystack.replace_range(start..end, &" ".repeat(needle.len()));
        }
        from = end;
    }
    count
}

/// The datasets `text` mentions, most mentioned first; a longer spelling's mentions are not
/// counted again for a shorter one (Fashion-MNIST is not also MNIST).
pub fn mentions(text: &str) -> Vec<DatasetMention> {
    let mut lower = text.to_lowercase();
    let mut found = Vec::new();
    for (name, spellings, id) in KNOWN {
        let mut count = 0;
        for s in *spellings {
            count += take_word(&mut lower, s);
        }
        if count > 0 {
            found.push(DatasetMention {
                name: (*name).to_owned(),
                catalogue_id: id.map(str::to_owned),
                count,
            });
        }
    }
    found.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    found.truncate(10);
    found
}

/// The most mentioned dataset the catalogue has, if any.
pub fn by_pattern<'a>(
    mentions: &'a [DatasetMention],
    catalogue: &[String],
) -> Option<&'a DatasetMention> {
    mentions.iter().find(|m| {
        m.catalogue_id
            .as_ref()
            .is_some_and(|id| catalogue.contains(id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_mentions_on_word_boundaries() {
        let text = "We train on CIFAR-10 and CIFAR-100. CIFAR-100 results in Table 2; Fashion-MNIST too. \
                    Not a dataset: mnistlike. ImageNet-scale.";
        let m = mentions(text);
        let names: Vec<(&str, u32)> = m.iter().map(|m| (m.name.as_str(), m.count)).collect();
        assert_eq!(names[0], ("CIFAR-100", 2));
        assert!(names.contains(&("CIFAR-10", 1)));
        assert!(names.contains(&("Fashion-MNIST", 1)));
        assert!(!names.iter().any(|(n, _)| *n == "MNIST"), "{names:?}");
        let catalogue: Vec<String> = DEFAULT_CATALOGUE.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            by_pattern(&m, &catalogue).unwrap().catalogue_id.as_deref(),
            Some("cifar100")
        );
        assert!(by_pattern(&m, &["synthetic".to_owned()]).is_none());
    }

    #[test]
    fn real_papers_name_their_datasets() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/papers");
        let kd = std::fs::read_to_string(dir.join("decoupled-knowledge-distillation.md")).unwrap();
        let m = mentions(&kd);
        assert!(m.iter().any(|m| m.name == "CIFAR-100"), "{m:?}");
        let attention = std::fs::read_to_string(dir.join("attention-is-all-you-need.tex")).unwrap();
        assert!(mentions(&attention).iter().any(|m| m.name == "WMT"));
    }
}
