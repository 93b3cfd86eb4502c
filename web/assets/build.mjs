// Builds Loket's browser assets into web/static/dist/ (gitignored): `npm run build`.
// One entry per line below: a JS or CSS source bundled by esbuild, or a file copied as it ships in its package.
// Everything the pages load comes from here; nothing from a CDN.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const out = join(root, "web", "static", "dist");
const modules = join(root, "node_modules");

// Bundled: { name in dist/ (without extension): source }. Add a page's own script or style with one line.
const entries = {
  app: "web/assets/app.js",
  loket: "web/assets/app.css",
  "api-docs": "web/assets/api-docs.js",
  viewer: "web/assets/viewer.js",  // the route diagram on the case and audit pages (bpmn-js NavigatedViewer)
  modeler: "web/assets/modeler.js",  // the route editor for process owners (bpmn-js Modeler, issue 11)
  "route-diff": "web/assets/route-diff.js",  // two route versions side by side, differences marked (bpmn-js-differ)
};

// Copied: { name in dist/: file under node_modules/ }.
const copies = {
  "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
  "axe.min.js": "axe-core/axe.min.js",
};

await mkdir(out, { recursive: true });
await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([name, src]) => [name, join(root, src)])),
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: "iife",
  target: ["es2020"],
  // Fonts and icons referenced from the CSS land next to it.
  loader: { ".woff": "file", ".woff2": "file", ".svg": "file", ".png": "file", ".eot": "file", ".ttf": "file" },
  logLevel: "warning",
});
await Promise.all(Object.entries(copies).map(([name, src]) => copyFile(join(modules, src), join(out, name))));
console.log(`assets gebouwd in ${out}`);
