/**
 * What the certificate authority's operations (issuance, renewal, revocation, CRLs, bootstrap
 * tokens) share: one value built by `CertificateAuthority`, handed to each of them.
 */
import type { Logger } from 'pino';
import type { PkiConfig } from '../core/config/pki-schema.ts';
import type { SubjectBlocks } from '../detect/subject-blocks.ts';
import type { CaMaterial } from './ca-material.ts';
import type { PkiEventListener } from './events.ts';
import type { PkiRepository } from './repository.ts';

export interface CaContext {
  readonly config: PkiConfig;
  /** External origin (scheme://host[:port]) where the CRL is served; goes into every certificate. */
  readonly publicUrl: string;
  readonly repo: PkiRepository;
  /** The signing material, replaced as a whole when a rotation is found. */
  readonly material: CaMaterial;
  readonly clock: () => Date;
  readonly logger: Logger | undefined;
  readonly onEvent: PkiEventListener | undefined;
  readonly subjectBlocks: SubjectBlocks | undefined;
}
