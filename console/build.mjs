// Bundles src/ into dist/ (committed): dist/index.html, dist/assets/app.js, dist/assets/app.css.
// No hashes in the names: the service serves them with Cache-Control: no-cache.
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
