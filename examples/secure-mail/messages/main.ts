/** `node examples/secure-mail/messages/main.ts --config messages.json` */
import { readConfigArgument } from '../shared/service-setup.ts';
import { runMain } from '../shared/run-main.ts';
import { startMessagesService } from './messages-service.ts';

runMain('messages', () => startMessagesService(readConfigArgument()));
