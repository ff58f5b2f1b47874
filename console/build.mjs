// Bundles src/ into dist/ (committed): dist/index.html, dist/assets/app.js, dist/assets/app.css.
// No hashes in the names: the service serves them with Cache-Control: no-cache.
// Also copies axe-core (a devDependency) into test-assets/ (committed, never served): the
// browser tests inject it to scan every page; nothing is fetched when the tests run.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

await rm("dist", { recursive: true, force: true });
await mkdir("dist/assets", { recursive: true });
await build({
  entryPoints: { app: "src/main.js" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020"],
  outdir: "dist/assets",
  legalComments: "linked",
  logLevel: "info",
});
await copyFile("src/index.html", "dist/index.html");

await rm("test-assets", { recursive: true, force: true });
await mkdir("test-assets", { recursive: true });
await copyFile("node_modules/axe-core/axe.min.js", "test-assets/axe.min.js");
await copyFile("node_modules/axe-core/LICENSE", "test-assets/axe-core.LICENSE");
