//! The topic exchange's matcher: a trie over the dot-separated words of binding patterns.
//!
//! `*` matches exactly one word, `#` zero or more. A routing key is matched by walking the trie
//! once, so the cost grows with the key's length and the number of wildcard branches it can take,
//! not with the number of bindings (100k bindings on distinct literal keys cost one hash lookup
//! per word). Consecutive `#` words are collapsed when a pattern is inserted (`#.#` is `#`), which
//! keeps the backtracking of `#` linear per `#` in the pattern.
//!
//! The empty string is a key (and a pattern) of zero words, as in RabbitMQ.

use rustc_hash::FxHashMap as HashMap;

/// A set of (pattern, value) pairs that answers "which values match this routing key".
#[derive(Debug)]
pub struct TopicTrie<T> {
    root: Node<T>,
    len: usize,
}

#[derive(Debug)]
struct Node<T> {
    words: HashMap<Box<str>, Node<T>>,
    star: Option<Box<Node<T>>>,
    hash: Option<Box<Node<T>>>,
    values: Vec<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            words: HashMap::default(),
            star: None,
            hash: None,
            values: Vec::new(),
        }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.values.is_empty()
            && self.words.is_empty()
            && self.star.is_none()
            && self.hash.is_none()
    }
}

impl<T> Default for TopicTrie<T> {
    fn default() -> Self {
        TopicTrie {
            root: Node::default(),
            len: 0,
        }
    }
}

/// Splits off the first word of a non-empty remainder: ("a", Some("b.c")) for "a.b.c".
#[inline]
fn next_word(rest: &str) -> (&str, Option<&str>) {
    match rest.find('.') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

/// The words of a pattern with runs of `#` collapsed into one.
fn pattern_words(pattern: &str) -> Vec<&str> {
    let mut words: Vec<&str> = Vec::new();
    if pattern.is_empty() {
        return words;
    }
    for w in pattern.split('.') {
        if w == "#" && words.last() == Some(&"#") {
            continue;
        }
        words.push(w);
    }
    words
}

impl<T: PartialEq> TopicTrie<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of (pattern, value) pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn insert(&mut self, pattern: &str, value: T) {
        let mut node = &mut self.root;
        for w in pattern_words(pattern) {
            node = match w {
                "*" => node.star.get_or_insert_with(Default::default),
                "#" => node.hash.get_or_insert_with(Default::default),
                _ => node.words.entry(w.into()).or_default(),
            };
        }
        node.values.push(value);
        self.len += 1;
    }

    /// Removes one pair equal to (pattern, value); returns whether one was there.
    pub fn remove(&mut self, pattern: &str, value: &T) -> bool {
        let words = pattern_words(pattern);
        let removed = Self::remove_at(&mut self.root, &words, value);
        if removed {
            self.len -= 1;
        }
        removed
    }

    fn remove_at(node: &mut Node<T>, words: &[&str], value: &T) -> bool {
        let Some((first, rest)) = words.split_first() else {
            return match node.values.iter().position(|v| v == value) {
                Some(i) => {
                    node.values.remove(i);
                    true
                }
                None => false,
            };
        };
        match *first {
            "*" | "#" => {
                let slot = if *first == "*" {
                    &mut node.star
                } else {
                    &mut node.hash
                };
                let Some(child) = slot.as_deref_mut() else {
                    return false;
                };
                let removed = Self::remove_at(child, rest, value);
                if removed && child.is_empty() {
                    *slot = None;
                }
                removed
            }
            word => {
                let Some(child) = node.words.get_mut(word) else {
                    return false;
                };
                let removed = Self::remove_at(child, rest, value);
                if removed && child.is_empty() {
                    node.words.remove(word);
                }
                removed
            }
        }
    }

    /// Calls `f` for the value of every pattern that matches `key`. A value bound with several
    /// patterns that all match is reported once per pattern: callers deduplicate destinations.
    pub fn for_each_match(&self, key: &str, f: &mut impl FnMut(&T)) {
        let rest = if key.is_empty() { None } else { Some(key) };
        Self::walk(&self.root, rest, f);
    }

    fn walk(node: &Node<T>, rest: Option<&str>, f: &mut impl FnMut(&T)) {
        match rest {
            None => {
                node.values.iter().for_each(&mut *f);
                if let Some(hash) = &node.hash {
                    // `#` matching zero words
                    Self::walk(hash, None, f);
                }
            }
            Some(s) => {
                let (word, after) = next_word(s);
                if let Some(child) = node.words.get(word) {
                    Self::walk(child, after, f);
                }
                if let Some(star) = &node.star {
                    Self::walk(star, after, f);
                }
                if let Some(hash) = &node.hash {
                    // `#` swallowing zero, one, two ... words
                    let mut r = Some(s);
                    loop {
                        Self::walk(hash, r, f);
                        match r {
                            Some(s) => r = next_word(s).1,
                            None => break,
                        }
                    }
                }
            }
        }
    }
}

/// The obvious, slow definition of a topic match, kept as the reference the trie is tested against.
pub fn naive_topic_match(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match p.split_first() {
            None => k.is_empty(),
            Some((&"#", prest)) => (0..=k.len()).any(|i| go(prest, &k[i..])),
            Some((&"*", prest)) => !k.is_empty() && go(prest, &k[1..]),
            Some((w, prest)) => k.first() == Some(w) && go(prest, &k[1..]),
        }
    }
    let p: Vec<&str> = if pattern.is_empty() {
        vec![]
    } else {
        pattern.split('.').collect()
    };
    let k: Vec<&str> = if key.is_empty() {
        vec![]
    } else {
        key.split('.').collect()
    };
    go(&p, &k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn matches(trie: &TopicTrie<u32>, key: &str) -> Vec<u32> {
        let mut v = Vec::new();
        trie.for_each_match(key, &mut |x| v.push(*x));
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn examples_from_the_rabbitmq_tutorial() {
        let mut t = TopicTrie::new();
        t.insert("*.orange.*", 1);
        t.insert("*.*.rabbit", 2);
        t.insert("lazy.#", 3);
        assert_eq!(matches(&t, "quick.orange.rabbit"), vec![1, 2]);
        assert_eq!(matches(&t, "lazy.orange.elephant"), vec![1, 3]);
        assert_eq!(matches(&t, "quick.orange.fox"), vec![1]);
        assert_eq!(matches(&t, "lazy.brown.fox"), vec![3]);
        assert_eq!(matches(&t, "lazy.pink.rabbit"), vec![2, 3]);
        assert_eq!(matches(&t, "quick.brown.fox"), Vec::<u32>::new());
        assert_eq!(matches(&t, "orange"), Vec::<u32>::new());
        assert_eq!(matches(&t, "quick.orange.male.rabbit"), Vec::<u32>::new());
        assert_eq!(matches(&t, "lazy"), vec![3]);
    }

    #[test]
    fn hash_matches_zero_words_and_empty_key() {
        let mut t = TopicTrie::new();
        t.insert("#", 1);
        t.insert("", 2);
        t.insert("a.#.b", 3);
        assert_eq!(matches(&t, ""), vec![1, 2]);
        assert_eq!(matches(&t, "a.b"), vec![1, 3]);
        assert_eq!(matches(&t, "a.x.y.b"), vec![1, 3]);
    }

    #[test]
    fn remove_prunes_and_keeps_others() {
        let mut t = TopicTrie::new();
        t.insert("a.*", 1);
        t.insert("a.*", 2);
        assert!(t.remove("a.*", &1));
        assert!(!t.remove("a.*", &1));
        assert_eq!(matches(&t, "a.b"), vec![2]);
        assert!(t.remove("a.*", &2));
        assert!(t.is_empty());
        assert!(t.root.is_empty());
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("c".to_string()),
            Just("".to_string()),
        ]
    }

    fn pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![word(), Just("*".to_string()), Just("#".to_string())],
            0..6,
        )
        .prop_map(|w| w.join("."))
    }

    fn key() -> impl Strategy<Value = String> {
        prop::collection::vec(word(), 0..7).prop_map(|w| w.join("."))
    }

    proptest! {
        #[test]
        fn trie_agrees_with_naive_reference(patterns in prop::collection::vec(pattern(), 0..12), keys in prop::collection::vec(key(), 1..8)) {
            let mut t = TopicTrie::new();
            for (i, p) in patterns.iter().enumerate() {
                t.insert(p, i as u32);
            }
            for k in &keys {
                let got = matches(&t, k);
                let want: Vec<u32> = patterns
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| naive_topic_match(p, k))
                    .map(|(i, _)| i as u32)
                    .collect();
                prop_assert_eq!(got, want, "key {:?} patterns {:?}", k, patterns);
            }
        }

        #[test]
        fn removing_every_pattern_empties_the_trie(patterns in prop::collection::vec(pattern(), 0..12)) {
            let mut t = TopicTrie::new();
            for (i, p) in patterns.iter().enumerate() {
                t.insert(p, i as u32);
            }
            for (i, p) in patterns.iter().enumerate() {
                prop_assert!(t.remove(p, &(i as u32)));
            }
            prop_assert!(t.is_empty());
            prop_assert!(t.root.is_empty());
        }
    }
}
