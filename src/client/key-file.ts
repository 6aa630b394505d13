// An agent's Ed25519 key on disk: a PKCS#8 PEM file (what `openssl genpkey -algorithm ed25519` writes), mode 0600 in
// a 0700 directory. Node and Bun alike (node:crypto, node:fs).
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Keys } from "./agent.ts";

export class KeyFileError extends Error {}

/** Reads a key file; throws KeyFileError when it is not an Ed25519 private key (ENOENT passes through). */
export function readKeyFile(path: string): Keys {
  const pem = readFileSync(path, "utf8");
  let jwk: { crv?: string; d?: string; x?: string };
  try {
    jwk = createPrivateKey(pem).export({ format: "jwk" }) as typeof jwk;
  } catch {
    throw new KeyFileError(`${path} is not a PEM private key`);
  }
  if (jwk.crv !== "Ed25519" || !jwk.d || !jwk.x) throw new KeyFileError(`${path} is not an Ed25519 private key`);
  return { secretKey: new Uint8Array(Buffer.from(jwk.d, "base64url")), publicKey: new Uint8Array(Buffer.from(jwk.x, "base64url")) };
}

/**
 * Makes a new key at `path`. Without `replace` an existing file is kept and EEXIST thrown; with it the file is
 * overwritten in place (still 0600). The directory is created 0700.
 */
export function writeKeyFile(path: string, options: { replace?: boolean } = {}): Keys {
  const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" });
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, pem, { mode: 0o600, flag: options.replace ? "w" : "wx" });
  // The mode given at creation is subject to the umask, and an overwritten file keeps its old mode.
  chmodSync(path, 0o600);
  return readKeyFile(path);
}
