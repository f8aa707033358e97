/**
 * Prints the configuration reference as Markdown. Regenerate the committed copy with:
 *
 *     npx tsx src/config/generate-docs.ts > docs/configuration.md
 *
 * A unit test fails when docs/configuration.md is out of date.
 */
import { describeConfigSchema, describeConfigTables } from './describe.js';
import { renderConfigurationMarkdown } from './docs.js';

process.stdout.write(renderConfigurationMarkdown(describeConfigSchema(), describeConfigTables()));
