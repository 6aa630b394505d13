// Loaded before every test file (bunfig.toml): starting a real server takes seconds, not milliseconds.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
