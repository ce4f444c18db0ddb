/**
 * QEMU reads QMP input with a JSON streamer, not by lines: a message ends where its
 * outermost brace or bracket closes, whatever the line breaks. This does the same
 * (tracking strings and escapes), so a client that sends no newline works as with QEMU.
 */
export class JsonStreamer {
  private text = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;

  /** Feeds text; returns the complete top-level values' source texts, in order. */
  push(chunk: string): string[] {
    const out: string[] = [];
    const base = this.text.length;
    this.text += chunk;
    for (let i = base; i < this.text.length; i++) {
      const c = this.text[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') {
        this.inString = true;
        if (this.depth === 0 && this.start === -1) this.start = i;
      } else if (c === '{' || c === '[') {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth <= 0) {
          out.push(this.text.slice(this.start === -1 ? 0 : this.start, i + 1));
          this.depth = 0;
          this.start = -1;
          this.text = this.text.slice(i + 1);
          i = -1;
        }
      } else if (this.depth === 0 && !/\s/.test(c)) {
        // A bare token at top level (e.g. `42` or garbage): hand it over on its own.
        if (this.start === -1) this.start = i;
      }
      if (this.depth === 0 && !this.inString && this.start !== -1 && /[\s]/.test(this.text[i + 1] ?? '')) {
        out.push(this.text.slice(this.start, i + 1));
        this.text = this.text.slice(i + 1);
        this.start = -1;
        i = -1;
      }
    }
    return out;
  }
}
