/**
 * Every item of a keyset-paged listing, a page at a time: `fetch(after)` answers the page after
 * the cursor (undefined: the first), `cursor` reads an item's key. It ends at an empty page, so a
 * source that answers shorter pages than asked (a server's own limit) is read to its end as well.
 * Only one page is held at once, whatever the listing's length.
 */
export async function* pages<T, K>(
  fetch: (after: K | undefined) => Promise<readonly T[]>,
  cursor: (item: T) => K,
  start?: K,
): AsyncGenerator<readonly T[]> {
  let after = start;
  for (;;) {
    const page = await fetch(after);
    const last = page.at(-1);
    if (last === undefined) return;
    yield page;
    after = cursor(last);
  }
}
