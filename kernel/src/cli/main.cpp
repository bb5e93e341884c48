// xib — the command-line tool. `xib <command> [options]`; `xib --help` lists the commands.
// Exit codes: 0 ok, 1 runtime failure, 2 usage error. Errors print one report, never a trace.
#include <cstdio>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "command.h"
#include "xib/config.h"
#include "xib/error.h"

namespace xib::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {version_command(), plugins_command(), models_command(),      run_command(),
                                           inspect_command(), convert_command(), generate_command(),    score_command(),
                                           ask_command(),     compare_command(), new_modality_command()};
  return all;
}

namespace {

void print_overview(std::ostream& out) {
  out << "xib — X-InstructBLIP toolkit: frozen modality encoders aligned to a frozen LLM by\n"
         "per-modality Q-Formers, trained alone and combined for cross-modal reasoning.\n\n"
         "usage: xib <command> [options]\n\ncommands:\n";
  for (const auto& c : commands()) {
    out << "  " << c.name << std::string(c.name.size() < 13 ? 13 - c.name.size() : 1, ' ') << c.summary << "\n";
  }
  out << "\n`xib <command> --help` explains a command. Exit codes: 0 ok, 1 failure, 2 usage error.\n";
}

const Command* find_command(const std::string& name) {
  for (const auto& c : commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

int run_command_line(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    if (args.size() >= 2 && find_command(args[1])) {
      args = {args[1], "--help"};
    } else {
      print_overview(std::cout);
      return args.empty() ? 2 : 0;
    }
  }
  if (args[0] == "--version") args[0] = "version";
  const Command* cmd = find_command(args[0]);
  if (!cmd) {
    std::vector<std::string> names;
    for (const auto& c : commands()) names.push_back(c.name);
    ErrorInfo info{.what = "unknown command '" + args[0] + "'", .expected = "one of: " + join_names(names)};
    if (auto near = nearest_name(args[0], names))
      info.hint = "did you mean 'xib " + *near + "'?";
    else
      info.hint = "run `xib --help` for the list of commands";
    throw UsageError(std::move(info));
  }

  if (cmd->options_from_plugins) {
    // A first pass reads only the common options (log level, --plugin-dir), to load the plugins
    // that the command's own options are made from; everything else is parsed below.
    po::variables_map common;
    try {
      const std::vector<std::string> rest(args.begin() + 1, args.end());
      po::options_description first = common_options();
      first.add_options()("xib-positional", po::value<std::vector<std::string>>(), "");
      po::positional_options_description any;
      any.add("xib-positional", -1);
      po::store(po::command_line_parser(rest).options(first).positional(any).allow_unregistered().run(), common);
    } catch (const po::error&) {
      // reported by the full parse below
    }
    apply_common_options(common);
    load_plugins(common);
  }
  po::options_description own("Options");
  po::positional_options_description positional;
  if (cmd->options) cmd->options(own, positional);
  po::options_description all;
  all.add(own).add(common_options());
  po::variables_map vm;
  try {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    po::store(po::command_line_parser(rest).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << cmd->usage << "\n\n" << cmd->summary << "\n";
      if (!cmd->details.empty()) std::cout << "\n" << cmd->details << "\n";
      std::cout << "\n" << all << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError({.what = std::string(e.what()),
                      .where = "xib " + cmd->name,
                      .expected = cmd->usage,
                      .hint = "see `xib " + cmd->name + " --help`"});
  }
  apply_common_options(vm);
  return cmd->run(vm);
}

}  // namespace
}  // namespace xib::cli

namespace {

/// An allocation that failed (std::bad_alloc, or LibTorch's own report of it), as an ordinary
/// error with a hint; `detail` is the allocator's first line, if any.
int out_of_memory(const std::string& detail) {
  std::cout.flush();
  std::cerr << "xib: error: out of memory" << (detail.empty() ? "" : ": " + detail)
            << "\n  hint: a smaller data.batch_size (run.accumulate keeps the effective batch), fewer run.threads, "
               "run.feature_cache, or a smaller model needs less; a size in the recipe may be absurd\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return xib::cli::run_command_line(argc, argv);
  } catch (const xib::Error& e) {
    std::cout.flush();
    std::cerr << "xib: error: " << e.report() << "\n";
    return e.exit_code();
  } catch (const std::bad_alloc&) {
    return out_of_memory("");
  } catch (const std::length_error& e) {
    std::cout.flush();
    std::cerr << "xib: error: a size is too large to allocate (" << e.what()
              << ")\n  hint: check the sizes in the recipe and the --set values (batch sizes, lengths, counts)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    const std::string what = e.what();
    // LibTorch's allocators report exhaustion as their own error type.
    if (what.find("can't allocate memory") != std::string::npos || what.find("out of memory") != std::string::npos) {
      return out_of_memory(what.substr(0, what.find('\n')));
    }
    std::cerr << "xib: error: " << what << "\n  hint: this is unexpected; please report it with the command you ran\n";
    return 1;
  } catch (...) {
    std::cerr << "xib: error: unknown failure\n";
    return 1;
  }
}
