// How the tests start Chromium: headless, no sandbox (tests run as root in CI), and nothing that
// reaches the network on its own.
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
