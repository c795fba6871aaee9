import { serviceOrSkip } from '../support/services.ts';
import { registerPkiRepositoryContract } from './repository-contract.ts';
import { memoryBackend, postgresBackend, sqliteBackend } from './support/backends.ts';

registerPkiRepositoryContract(memoryBackend);
registerPkiRepositoryContract(sqliteBackend);
registerPkiRepositoryContract(postgresBackend, await serviceOrSkip('postgres'));
