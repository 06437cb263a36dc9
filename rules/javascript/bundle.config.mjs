// Rolldown configuration for `jco componentize --bundle --bundle-config` (see rules/build.sh).
//
// - The WIT imports of the wasmhook package (the `log` interface) are supplied by the component,
//   not by a file: marking them external says so, instead of the `[UNRESOLVED_IMPORT]` warning
//   the bundler prints for them on every build (jco marks only `wasi:` imports external).
// - QuickJS reports an error's place as a line and column of the bundle, one file that holds
//   the rule and the helpers, reformatted. The plugin below appends a table from the bundle's
//   lines to the original files and lines (from the bundle's source map), which
//   `guest-sdk/javascript/wasmhook.js` uses to say where a rule threw: `rule.js:4:19`, not
//   `/rule.js:353:11`. Files are named relative to the repository root (this file's `../..`).

import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The global the helpers read the table from (see `sourceOf` in wasmhook.js).
const TABLE = 'wasmhook:source-lines';
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The segments of a source map's `mappings`, per generated line: `[column, source, line, column]`, 0-based. */
function decodeMappings(mappings) {
  const lines = [];
  let source = 0;
  let line = 0;
  let column = 0;
  for (const text of mappings.split(';')) {
    const segments = [];
    let generated = 0;
    for (const segment of text.split(',')) {
      if (segment === '') continue;
      const fields = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) * 2 ** shift;
        if (digit & 32) {
          shift += 5;
        } else {
          fields.push(value % 2 ? -(value - 1) / 2 : value / 2);
          value = 0;
          shift = 0;
        }
      }
      generated += fields[0];
      if (fields.length >= 4) {
        source += fields[1];
        line += fields[2];
        column += fields[3];
        segments.push([generated, source, line, column]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

/** Appends the line table to each chunk and drops the source map itself (jco takes one chunk). */
const sourceLines = {
  name: 'wasmhook-source-lines',
  generateBundle(_options, bundle) {
    for (const [name, item] of Object.entries(bundle)) {
      if (item.type === 'asset' && name.endsWith('.map')) {
        delete bundle[name];
        continue;
      }
      if (item.type !== 'chunk' || !item.map) continue;
      const files = item.map.sources;
      // Per line of the bundle: [column, file, line, column, …], the bundle's column 0-based as
      // QuickJS counts it minus one, the original's 1-based.
      const lines = decodeMappings(item.map.mappings).map((segments) =>
        segments.flatMap(([column, file, line, original]) => [column, file, line + 1, original + 1]),
      );
      // Lines of the bundle above are unchanged: the table is appended after them.
      item.code = item.code.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
      item.code += `globalThis[${JSON.stringify(TABLE)}] = ${JSON.stringify({ files, lines })};\n`;
    }
  },
};

export default {
  external: [/^wasmhook:/],
  output: {
    sourcemap: 'hidden',
    // Sources are relative to the folder the map would be written to; name them from the root.
    sourcemapPathTransform: (source, map) => relative(ROOT, resolve(dirname(map), source)),
  },
  plugins: [sourceLines],
};
