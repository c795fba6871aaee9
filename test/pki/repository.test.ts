import { serviceOrSkip } from '../support/services.ts';
import { registerPkiLineageContract, registerPkiRepositoryContract } from './repository-contract.ts';
import { memoryBackend, postgresBackend, sqliteBackend } from './support/backends.ts';

registerPkiRepositoryContract(memoryBackend);
registerPkiRepositoryContract(sqliteBackend);
registerPkiRepositoryContract(postgresBackend, await serviceOrSkip('postgres'));
registerPkiLineageContract(memoryBackend);
registerPkiLineageContract(sqliteBackend);
registerPkiLineageContract(postgresBackend, await serviceOrSkip('postgres'));
