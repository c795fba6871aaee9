import { serviceOrSkip } from '../support/services.ts';
import { registerPkiLineageContract, registerPkiRepositoryContract } from './repository-contract.ts';
import { memoryBackend, postgresBackend, sqliteBackend } from './support/backends.ts';

registerPkiRepositoryContract(memoryBackend);
registerPkiRepositoryContract(sqliteBackend);
registerPkiRepositoryContract(postgresBackend, await serviceOrSkip('postgres'));
// The SQL backends join when src/store/repos/pki-repo.ts maps renewed_from (migration 0010).
registerPkiLineageContract(memoryBackend);
