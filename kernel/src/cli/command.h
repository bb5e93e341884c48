// The commands of the `xib` tool. Each command is one file (cmd_<name>.cpp) that fills a
// Command; main.cpp dispatches on the first argument and turns errors into exit codes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace xib::cli {

namespace po = boost::program_options;

struct Command {
  std::string name;
  std::string summary;  ///< one line for `xib --help`
  std::string usage;    ///< "xib run RECIPE.yaml [--set key=value]…"
  std::string details;  ///< paragraph(s) for `xib <command> --help`
  std::function<void(po::options_description&, po::positional_options_description&)> options;
  std::function<int(const po::variables_map&)> run;
  /// The command's options depend on the plugins (e.g. one shorthand per registered modality):
  /// the plugins are loaded (with the common options' --plugin-dir) before options() is called.
  bool options_from_plugins = false;
};

/// Every command, in the order `xib --help` lists them.
const std::vector<Command>& commands();

Command version_command();
Command plugins_command();
Command models_command();
Command run_command();
Command inspect_command();
Command convert_command();
Command generate_command();
Command score_command();
Command ask_command();
Command compare_command();
Command new_modality_command();

/// "512 B", "12.3 kB", "98.4 MB", "1.07 GB" — sizes for tables.
std::string human_bytes(uint64_t bytes);

/// Options every command accepts (--log-level, -v, -q, --threads, --plugin-dir).
po::options_description common_options();
/// Apply the common options: log level, thread count.
void apply_common_options(const po::variables_map& vm);
/// The --plugin-dir folders given.
std::vector<std::filesystem::path> plugin_dirs(const po::variables_map& vm);
/// Load plugins from --plugin-dir, $XIB_PLUGIN_PATH and the build/install folders.
void load_plugins(const po::variables_map& vm, bool warn_refused = true);

}  // namespace xib::cli
