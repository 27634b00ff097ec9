//! A stable insertion sort for the short lists the rules order (a checklist's
//! items, a rule's conditions). std's stable sort costs the widget's wasm
//! about 3 KB for every element type it sorts; this costs a few hundred bytes.
//! It is quadratic, so it is only for lists a definition keeps short, never
//! for a help index's words or search hits.

use std::cmp::Ordering;

/// Sorts `v` by `key`, keeping equal elements in their order.
pub fn by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]).cmp(&key(&v[j])) == Ordering::Greater {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::by_key;

    #[test]
    fn sorts_by_key_and_keeps_equal_keys_in_order() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e'), (2, 'f')];
        by_key(&mut v, |p| p.0);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (2, 'f'), (3, 'a'), (3, 'c')]);
        let mut empty: Vec<u8> = Vec::new();
        by_key(&mut empty, |x| *x);
        assert!(empty.is_empty());
    }

    #[test]
    fn agrees_with_std_stable_sort() {
        let mut seed = 7u32;
        for len in 0..40 {
            let v: Vec<(u32, usize)> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    ((seed >> 16) % 5, i)
                })
                .collect();
            let (mut ours, mut std) = (v.clone(), v);
            by_key(&mut ours, |p| p.0);
            std.sort_by_key(|p| p.0);
            assert_eq!(ours, std);
        }
    }
}
