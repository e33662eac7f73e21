import type { LoadConfigOptions } from '../../config/load-config.js';
import { createDoctorDependencies } from '../../doctor/create-doctor-dependencies.js';
import { renderDoctorReport } from '../../doctor/render-report.js';
import { runDoctor, type DoctorDependencies } from '../../doctor/run-doctor.js';
import type { CommandResult } from '../command-result.js';
import { EXIT_ERROR, EXIT_OK } from '../../exit-codes.js';
import { tokenGroupFor } from '../../app/runtime.js';

export interface DoctorCommandOptions extends LoadConfigOptions {
  signal: AbortSignal;
  /** Replaces the real checks' dependencies (tests). */
  dependencies?: DoctorDependencies;
}

/**
 * `nanoclaw doctor`: checks the setup end to end and says how to fix each problem. Runs without a
 * valid configuration (that is one of its findings). Exit 1 when any check failed; warnings pass.
 */
export async function doctorCommand(options: DoctorCommandOptions): Promise<CommandResult> {
  const { signal, dependencies, ...loadOptions } = options;
  const report = await runDoctor(
    dependencies ?? createDoctorDependencies({ ...loadOptions, tokenGroup: tokenGroupFor }),
    signal,
  );
  return {
    exitCode: report.checks.some((check) => check.status === 'fail') ? EXIT_ERROR : EXIT_OK,
    json: { checks: report.checks },
    text: renderDoctorReport(report.checks),
  };
}
