// Small wrappers over node:crypto and @noble/ed25519: hashing, random secrets, constant-time compare, Ed25519 verify.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  randomBytes,
  timingSafeEqual,
  verify,
} from "node:crypto";
import * as ed from "@noble/ed25519";

export const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** HMAC-SHA256 in hex: a digest of something guessable (an address) that only the holder of the key can recompute. */
export const hmacHex = (key: Uint8Array, text: string) => createHmac("sha256", key).update(text).digest("hex");
export const hmacBytes = (key: Uint8Array, text: string) => new Uint8Array(createHmac("sha256", key).update(text).digest());

/** 256 random bits, base64url, with a readable prefix so a leaked secret says what it is. */
export const randomSecret = (prefix: string) => `${prefix}_${randomBytes(32).toString("base64url")}`;

/** AES-256-GCM: `text` sealed under a 32-byte key, as base64url of nonce, tag and ciphertext. */
export function seal(key: Uint8Array, text: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const body = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]).toString("base64url");
}

/** The text `seal` sealed, or undefined when the key is wrong or the box was tampered with. */
export function unseal(key: Uint8Array, sealed: string): string | undefined {
  try {
    const bytes = Buffer.from(sealed, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(12, 28));
    return Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Standard base64 (padding optional) to bytes, or undefined when it is not base64 at all. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1) return undefined;
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** A raw 32-byte Ed25519 public key that is a valid curve point. */
export function isEd25519PublicKey(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false;
  try {
    ed.Point.fromBytes(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Verifies an Ed25519 signature with node:crypto (much faster than pure JS on the server's path). */
export function verifyEd25519(publicKey: Uint8Array, message: string, signature: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    const key = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
      format: "jwk",
    });
    return verify(null, Buffer.from(message, "utf8"), key, signature);
  } catch {
    return false;
  }
}
