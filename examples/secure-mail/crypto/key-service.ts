/**
 * The key service contract: wraps and unwraps data keys under a key-encryption key (KEK)
 * it never hands out, and destroys KEKs. Shaped so that a cloud KMS can implement it
 * (AWS KMS Encrypt/Decrypt/ScheduleKeyDeletion, GCP Cloud KMS encrypt/decrypt/destroy
 * CryptoKeyVersion, Vault transit encrypt/decrypt/delete).
 *
 * Each message has its own KEK (`keyId` = message id). Destroying it is crypto-shredding:
 * the wrapped data key kept with the content, and any backup of it, can then never be
 * unwrapped again.
 */
export interface KeyService {
  /** Wraps `dataKey` under the KEK `keyId`, creating that KEK on first use. Refused once `keyId` was destroyed. */
  wrap(keyId: string, dataKey: Uint8Array): Promise<Uint8Array>;
  /**
   * @throws MailError MAIL_KEY_DESTROYED after destroy, MAIL_KEY_UNKNOWN for a key never made,
   *   MAIL_DECRYPT_FAILED when `wrapped` was not made by this KEK.
   */
  unwrap(keyId: string, wrapped: Uint8Array): Promise<Uint8Array>;
  /** Destroys the KEK for good. Idempotent: destroying an unknown or destroyed key succeeds. */
  destroy(keyId: string): Promise<void>;
}

/** Key ids are message ids: `msg_` and 32 lowercase hex digits. */
export const KEY_ID_PATTERN = /^msg_[0-9a-f]{32}$/;
