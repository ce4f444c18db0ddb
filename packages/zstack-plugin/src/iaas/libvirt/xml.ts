/**
 * Just enough XML for our own metadata elements: escaping for what we write, and a strict
 * parser for what `virsh metadata --uri` prints back (one element with attributes and
 * child elements; whitespace between them; comments skipped). Anything else (text
 * content, CDATA, a DOCTYPE, an unknown entity) is refused with FTS_INVALID_INPUT naming
 * where, never guessed at.
 */
import { FtServiceError } from '../../errors.js';

/** An element: its local name (the prefix dropped), its attributes (likewise), its child elements. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Escapes text for an attribute value or element content. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** `name="value"` pairs, escaped, in the given order; undefined values are left out. */
export function xmlAttrs(
  attrs: ReadonlyArray<readonly [string, string | number | boolean | undefined]>,
): string {
  return attrs
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

const NAME = /^[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?/;

function localName(qname: string): string {
  const i = qname.indexOf(':');
  return i === -1 ? qname : qname.slice(i + 1);
}

/** Parses one element (the whole text must be that element). `where` names the source in errors. */
export function parseXmlElement(text: string, where: string): XmlElement {
  let pos = 0;
  const fail = (why: string): never => {
    throw new FtServiceError('FTS_INVALID_INPUT', `${where}: ${why} at offset ${pos}`, { field: where });
  };
  const skipSpaceAndComments = () => {
    for (;;) {
      while (pos < text.length && /\s/.test(text[pos]!)) pos++;
      if (text.startsWith('<!--', pos)) {
        const end = text.indexOf('-->', pos + 4);
        if (end === -1) fail('an unterminated comment');
        pos = end + 3;
        continue;
      }
      if (text.startsWith('<?xml', pos)) {
        const end = text.indexOf('?>', pos);
        if (end === -1) fail('an unterminated XML declaration');
        pos = end + 2;
        continue;
      }
      return;
    }
  };
  const decode = (raw: string): string =>
    raw.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (_, e: string) => {
      if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
      if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
      const v = ENTITIES[e];
      if (v === undefined) fail(`the unknown entity &${e};`);
      return v!;
    });
  const element = (depth: number): XmlElement => {
    if (depth > 16) fail('elements nested deeper than 16');
    if (text[pos] !== '<') fail('expected an element');
    pos++;
    const m = NAME.exec(text.slice(pos));
    if (!m) fail('expected an element name');
    const qname = m![0];
    pos += qname.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = pos;
      while (pos < text.length && /\s/.test(text[pos]!)) pos++;
      if (text.startsWith('/>', pos)) {
        pos += 2;
        return { name: localName(qname), attrs, children: [] };
      }
      if (text[pos] === '>') {
        pos++;
        break;
      }
      if (pos === before) fail('expected whitespace, an attribute, > or />');
      const a = NAME.exec(text.slice(pos));
      if (!a) fail('expected an attribute name');
      const aname = a![0];
      pos += aname.length;
      if (text[pos] !== '=') fail(`expected = after ${aname}`);
      pos++;
      const quote = text[pos];
      if (quote !== '"' && quote !== "'") fail(`expected a quoted value for ${aname}`);
      const end = text.indexOf(quote!, pos + 1);
      if (end === -1) fail(`an unterminated value for ${aname}`);
      const raw = text.slice(pos + 1, end);
      if (raw.includes('<')) fail(`a < inside the value of ${aname}`);
      pos = end + 1;
      // Namespace declarations are not data.
      if (aname === 'xmlns' || aname.startsWith('xmlns:')) continue;
      const key = localName(aname);
      if (Object.hasOwn(attrs, key)) fail(`the attribute ${key} twice`);
      attrs[key] = decode(raw);
    }
    const children: XmlElement[] = [];
    for (;;) {
      skipSpaceAndComments();
      if (pos >= text.length) fail(`an unterminated <${qname}>`);
      if (text.startsWith('</', pos)) {
        pos += 2;
        if (!text.startsWith(qname, pos)) fail(`a closing tag that does not match <${qname}>`);
        pos += qname.length;
        while (pos < text.length && /\s/.test(text[pos]!)) pos++;
        if (text[pos] !== '>') fail(`expected > to close </${qname}`);
        pos++;
        return { name: localName(qname), attrs, children };
      }
      if (text[pos] !== '<' || text.startsWith('<![CDATA[', pos))
        fail(`text inside <${qname}> (only elements are allowed)`);
      children.push(element(depth + 1));
    }
  };
  skipSpaceAndComments();
  const root = element(0);
  skipSpaceAndComments();
  if (pos !== text.length) fail('more after the element');
  return root;
}
