/** A heading's anchor, as GitHub makes it and the HTML site (./site.ts) makes it too: links work in both. */
export const anchor = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .trim()
    .replace(/\s/g, "-");
