// Where this repository is, for the modules that read its own files (templates, apps, sidecar).
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));
