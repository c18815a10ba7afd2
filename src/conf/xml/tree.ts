/**
 * A text node of an {@link XmlElement}.
 *
 * @public
 */
export interface XmlText {
  /** The text, with entities already decoded. */
  readonly text: string;
}

/**
 * A small, immutable XML element tree as produced by the reader. It keeps attribute order
 * and source positions, so unknown subtrees (a `<domain>`, a `<cookie>`, `<metadata>`)
 * can be kept and formatted back unchanged.
 *
 * @public
 */
export interface XmlElement {
  /** Qualified element name, e.g. `disk` or `app1:foo`. */
  readonly name: string;
  /** Attributes in document order (including `xmlns:*` declarations). */
  readonly attributes: Readonly<Record<string, string>>;
  /** Child elements and non-whitespace text, in document order. */
  readonly children: readonly (XmlElement | XmlText)[];
  /** 1-based line of the start tag, when parsed from text. */
  readonly line?: number;
  /** 1-based column of the start tag, when parsed from text. */
  readonly column?: number;
}
